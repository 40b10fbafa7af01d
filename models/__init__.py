"""TorchRec ranking model: feature spec, data streaming, DLRM, distributed training, export, registry."""

from __future__ import annotations

import logging
import warnings


def quiet_library_logs() -> None:
    """Keep task logs to shoprec's own progress: silence known-harmless library notices."""
    logging.getLogger("torch.fx._symbolic_trace").setLevel(logging.ERROR)  # once-per-process tracing notice
    logging.getLogger("torchrec").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*broadcast_buffers.*", category=FutureWarning)
    warnings.filterwarnings("ignore", message="torch.distributed is disabled", category=UserWarning)
    # the fused embedding update runs in TorchRec's backward hook, not an autograd kernel (tests check it trains)
    warnings.filterwarnings(
        "ignore", message="fbgemm.*autograd kernel was not registered", category=UserWarning
    )

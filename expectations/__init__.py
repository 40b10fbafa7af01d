"""Great Expectations suites, one `<schema>.<table>.yaml` per table: a package so they ship with shoprec (`Settings.suites`)."""

"""datapackage/ -> errors: the package's files checked against its descriptor, as frictionless
does."""

"""datapackage/ + seeds/ -> the static HTML review report."""

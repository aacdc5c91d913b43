"""tables <-> datapackage/: write, the one reader, atomic swap, versions and diff, datasheet."""

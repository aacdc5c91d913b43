"""corpus -> tables: typed rows with their origins, read in parallel over the machine's cores."""

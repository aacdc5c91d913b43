"""tables -> problems: keys, domain rules and coverage, each problem at its file:line."""

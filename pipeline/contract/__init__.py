"""What the data is: the tables, keys and code lists of schemas/, the field types, the table
constraints, and the vocabulary of input problems."""

"""What the data is: the tables, keys and code lists of schemas/, and the vocabulary of input problems."""

# Load the tables of this data package into R, each column typed as datapackage.json declares it.
#
# Needs only R and the jsonlite package (CRAN, or Debian's r-cran-jsonlite):
#
#   source("load.R")
#   tables <- load_package()        # a named list of data frames, one per table
#   events <- tables$events
#
# `Rscript load.R [folder]` prints each table's row count and its columns' classes and missing
# cells.
#
# Each CSV file is read as text, then each column is typed from its field in datapackage.json:
#   date                  -> Date
#   integer               -> integer (every count and offset fits in R's 32 bits; a value that
#                            does not stops the loader rather than becoming NA)
#   number                -> numeric
#   boolean               -> logical
#   a code list           -> factor whose levels are the whole code list, in its order;
#     (`categories`)         ordered where the field says `categoriesOrdered`
#   string                -> character
# A cell written as one of the schema's `missingValues` (the empty cell) is NA. A value that does
# not read as its type stops the loader with the table, column and value: nothing becomes NA
# unnoticed.
#
# With the arrow package from CRAN, the Parquet twins read typed too:
#   arrow::read_parquet("data/events.parquet")

load_package <- function(folder = ".") {
  descriptor <- jsonlite::fromJSON(file.path(folder, "datapackage.json"), simplifyVector = FALSE)
  tables <- lapply(descriptor$resources, load_table, folder = folder)
  names(tables) <- vapply(descriptor$resources, function(resource) resource$name, "")
  tables
}

load_table <- function(resource, folder = ".") {
  fields <- resource$schema$fields
  missing <- unlist(resource$schema$missingValues)
  if (is.null(missing)) missing <- ""  # Table Schema's default
  cells <- utils::read.csv(
    file.path(folder, resource$path),
    colClasses = "character", na.strings = missing, encoding = "UTF-8",
    check.names = FALSE, strip.white = FALSE, comment.char = ""
  )
  declared <- vapply(fields, function(field) field$name, "")
  if (!identical(names(cells), declared)) {
    stop(sprintf("%s: the columns are %s, the schema declares %s", resource$path,
                 paste(names(cells), collapse = ", "), paste(declared, collapse = ", ")))
  }
  for (field in fields) {
    cells[[field$name]] <- typed_column(cells[[field$name]], field, resource$name)
  }
  cells
}

typed_column <- function(text, field, table) {
  where <- sprintf("%s.%s", table, field$name)
  if (!is.null(field$categories)) return(code_list(text, field, where))
  type <- if (is.null(field$type)) "string" else field$type
  switch(type,
    date = checked(as.Date(text, format = "%Y-%m-%d"), text, where, "a date as YYYY-MM-DD"),
    integer = whole_numbers(text, where),
    number = checked(suppressWarnings(as.numeric(text)), text, where, "a number"),
    boolean = truth_values(text, field, where),
    text
  )
}

code_list <- function(text, field, where) {
  levels <- vapply(field$categories, function(category) {
    as.character(if (is.list(category)) category$value else category)
  }, "")
  checked(factor(text, levels = levels, ordered = isTRUE(field$categoriesOrdered)),
          text, where, paste("one of", paste(levels, collapse = ", ")))
}

whole_numbers <- function(text, where) {
  numbers <- suppressWarnings(as.numeric(text))
  outside <- !is.na(numbers) &
    (abs(numbers) > .Machine$integer.max | numbers != round(numbers))
  numbers[outside] <- NA
  checked(as.integer(numbers), text, where, "an integer within R's 32 bits (read the Parquet file with arrow for 64)")
}

truth_values <- function(text, field, where) {
  true <- if (is.null(field$trueValues)) c("true", "True", "TRUE", "1") else unlist(field$trueValues)
  false <- if (is.null(field$falseValues)) c("false", "False", "FALSE", "0") else unlist(field$falseValues)
  values <- ifelse(text %in% true, TRUE, ifelse(text %in% false, FALSE, NA))
  checked(values, text, where, paste("one of", paste(c(true, false), collapse = ", ")))
}

# The typed column, or an error naming the first cell that did not read as its type.
checked <- function(values, text, where, wanted) {
  wrong <- which(is.na(values) & !is.na(text))
  if (length(wrong) > 0) {
    stop(sprintf("%s, data row %d: '%s' is not %s", where, wrong[1], text[wrong[1]], wanted),
         call. = FALSE)
  }
  values
}

if (sys.nframe() == 0L) {
  # One line per table (name, rows) and per column (table, column, class, missing cells, the
  # factor's levels), tab-separated.
  arguments <- commandArgs(trailingOnly = TRUE)
  tables <- load_package(if (length(arguments) > 0) arguments[1] else ".")
  for (table in names(tables)) {
    cat(table, "rows", nrow(tables[[table]]), sep = "\t")
    cat("\n")
    for (column in names(tables[[table]])) {
      values <- tables[[table]][[column]]
      levels <- if (is.factor(values)) paste(levels(values), collapse = "|") else ""
      cat(table, column, paste(class(values), collapse = "/"), sum(is.na(values)), levels,
          sep = "\t")
      cat("\n")
    }
  }
}

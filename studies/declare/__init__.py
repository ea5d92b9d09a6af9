"""Declaring a study, and its command line: what a study is (`study`), the search spaces as data
(`spaces`), `--set` (`overrides`), where stores and data live (`locations`), and the parser that turns
a command line into a validated plan (`cli`)."""

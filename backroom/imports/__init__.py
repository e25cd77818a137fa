"""Imports: resumable spreadsheet and CSV imports with error workbooks; exports."""

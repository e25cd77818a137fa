"""Column names of the forecaster's input and output tables."""

ID = "series_id"
TIME = "date"
VALUE = "value"
FORECAST = "forecast"

"""Errors of the forecaster, with stable codes."""

from backroom.kernel.exceptions import ValidationFailed


class ForecastInputInvalid(ValidationFailed):
    """The history or future table is unusable; `errors` maps each column to every problem found."""

    code = "forecast_input_invalid"

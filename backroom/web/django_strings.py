"""Strings Django 6.1 shows to users that its own zh_Hans catalogue does not translate yet.

Listed here only so `makemessages` copies them into Backroom's catalogue, which takes
precedence over Django's (LOCALE_PATHS come first).
"""

from django.utils.translation import gettext_noop

DJANGO_STRINGS = [
    gettext_noop("- Select an option -"),  # django.db.models.fields.BLANK_CHOICE_LABEL
]

"""idsync plugin for the Phonebook: the company phone book as a target."""

from idsync_phonebook.plugin import FIELDS, PhonebookPlugin
from idsync_phonebook.settings import PhonebookSettings

__all__ = ["FIELDS", "PhonebookPlugin", "PhonebookSettings"]

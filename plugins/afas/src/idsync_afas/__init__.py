"""idsync plugin for AFAS Profit: HR source and UPN/e-mail write-back.

The simulator (``idsync_afas.simulator``) needs the ``[sandbox]`` extra and is imported only
where it is used.
"""

from idsync_afas.client import AfasClient, AfasError, afas_token_header
from idsync_afas.connectors import GET_CONNECTORS
from idsync_afas.plugin import AfasPlugin, AfasUsersPlugin
from idsync_afas.settings import WRITABLE_FIELDS, AfasSettings
from idsync_afas.source import parse_date, person_from_rows

__all__ = [
    "GET_CONNECTORS",
    "WRITABLE_FIELDS",
    "AfasClient",
    "AfasError",
    "AfasPlugin",
    "AfasSettings",
    "AfasUsersPlugin",
    "afas_token_header",
    "parse_date",
    "person_from_rows",
]

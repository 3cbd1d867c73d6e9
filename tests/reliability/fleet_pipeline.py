"""The pipeline of one organisation in the fleet tests and the fleet benchmark: AFAS into
HelloID, with correlation on the employee number and a group per department."""

from __future__ import annotations

_TEXT = """
name: __NAME__
state: __STATE__
timezone: Europe/Amsterdam
sources:
  hr:
    plugin: afas
    settings: {base_url: "${AFAS_BASE_URL}", token: "${AFAS_TOKEN}"}
targets:
  helloid:
    plugin: helloid
    settings:
      base_url: "${HELLOID_BASE_URL}"
      api_key: "${HELLOID_API_KEY}"
      api_secret: "${HELLOID_API_SECRET}"
    account:
      when: "contract.department.code != 'EXT' and contract.type.code != 'EXT'"
      correlate: {person: external_id, account: userAttributes.employeeId}
      unique:
        userName:
          - "{{ person.contact.email }}"
          - "{{ person.name.first | slug }}.{{ person.name.full_family | slug }}{{ suffix }}@example.org"
      mapping:
        firstName: "{{ person.name.first }}"
        lastName: "{{ person.name.full_family }}"
        userAttributes.employeeId: "{{ person.external_id }}"
        userAttributes.department: "{{ contract.department.name }}"
    permissions:
      - {dynamic: "group:department_{{ contract.department.code }}"}
    resources:
      - "group:department_{{ department.code }}"
"""


def pipeline_text(name: str | None, state: str, *, thresholds: bool = True) -> str:
    """The pipeline file of organisation ``name`` (None: no ``name:``, the file's stem is
    used) keeping its state at ``state``; ``thresholds=False`` writes them ``off``."""
    text = _TEXT.replace("__STATE__", state)
    text = text.replace("name: __NAME__\n", "") if name is None else text.replace("__NAME__", name)
    return text if thresholds else text + "    thresholds: off\n"

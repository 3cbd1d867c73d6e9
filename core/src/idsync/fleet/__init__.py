"""A fleet of pipelines on one PostgreSQL store, run by procrastinate workers.

``idsync schedule add`` registers pipelines, ``idsync worker`` runs them, ``idsync fleet``
shows them. The queue (:mod:`idsync.fleet.queue`) needs the ``fleet`` extra; the schedules
(:mod:`idsync.fleet.schedules`) do not.
"""

from idsync.fleet.schedules import DEFAULT_QUEUE, FleetSchedule, Schedules, read_env_file

__all__ = ["DEFAULT_QUEUE", "FleetSchedule", "Schedules", "read_env_file"]

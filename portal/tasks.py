"""Queueing background tasks with the transaction that asks for them."""

from django.db import transaction
from django_tasks_db import DatabaseBackend


def enqueue_with_transaction(task, *args) -> None:
    """Queue `task` so that it exists exactly when the caller's transaction commits.

    With the portal's task queue (django-tasks-db: a table of this same database) that means
    enqueueing now, inside the transaction: the task commits or rolls back with the rows it is
    about, so a worker never finds it early and a process dying just after the commit cannot
    lose it. Any other queue gets the task once the transaction has committed."""
    if isinstance(task.get_backend(), DatabaseBackend):
        task.enqueue(*args)
    else:
        transaction.on_commit(lambda: task.enqueue(*args))

"""Scheduling: the job and workflow lifecycles (pure; see domains/__init__.py for the shape).

    job_state.py   JobState, evolve / evolve_envelope, fold, already_applied
    job_decide.py  decide(state, command, *, now) for every job command, timed_out
    errors.py      the scheduling domain's DomainError subclasses
    workflow/      workflows as DAGs of tasks
"""

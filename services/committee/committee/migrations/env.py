from betterwork_events.migrations import run_env

run_env()

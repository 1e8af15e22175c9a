"""Background work of the Update module: start strategies at their time, follow their devices."""
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from entryway.firmware import services


@db_periodic_task(crontab(minute="*"))
@lock_task("firmware-rollouts-tick")
def firmware_rollouts_tick():
    """Every minute: start due strategies, mark overdue devices Not reached, move waves on."""
    return services.strategies_run_due()


@db_task()
def strategy_start_task(strategy_id: int):
    """Start one strategy (Upgrade Right Now); does nothing if it already started."""
    return services.strategy_start(strategy_id=strategy_id)

"""The ``earlywarn`` command line: the commands of each area, registered in the order
``earlywarn --help`` lists them."""

from __future__ import annotations

import typer

from earlywarn.app.cli import (
    accounts,
    alerts,
    coverage,
    data,
    forecasting,
    operations,
    scoring,
    secret_keys,
)

app = typer.Typer(
    help="earlywarn: atrocity-risk early warning for focal points, analysts and administrators.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

app.command("init-db")(data.init_db)
app.command("import")(data.import_file)
app.command("ingest")(data.ingest)
app.command("score")(scoring.score)
app.command("score-history")(scoring.score_history)
app.command("run-once")(scoring.run_once)
app.command("score-backtest")(coverage.score_backtest)
app.command("coverage")(coverage.coverage)
app.command("create-key")(operations.create_key)
app.command("create-user")(accounts.create_user)
app.command("deliver")(alerts.deliver)
app.command("serve")(operations.serve)
app.command("api")(operations.api)
app.command("scheduler")(operations.scheduler)
app.command("worker")(operations.worker)
app.command("secret-key")(secret_keys.secret_key)
app.command("rotate-secrets")(secret_keys.rotate_secrets)
app.command("backtest")(forecasting.backtest)
app.command("train")(forecasting.train)
app.command("promote")(forecasting.promote_model)
app.command("models")(forecasting.list_models)

if __name__ == "__main__":
    app()

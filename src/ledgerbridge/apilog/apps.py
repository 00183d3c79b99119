from django.apps import AppConfig


class ApiLogConfig(AppConfig):
    name = "ledgerbridge.apilog"
    label = "apilog"
    verbose_name = "API call log"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import request_finished
        from django.tasks.signals import task_finished

        from ledgerbridge.apilog.hooks import flush_pending

        # A sync's last calls are written when its task ends, not whenever the hook is collected.
        task_finished.connect(flush_pending, dispatch_uid="apilog.flush_after_task")
        request_finished.connect(flush_pending, dispatch_uid="apilog.flush_after_request")

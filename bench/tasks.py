from django.tasks import task


@task()
def noop(n: int) -> int:
    return n

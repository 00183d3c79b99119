"""The autotask simulator."""

"""The demo app's models and their admin declarations: one user of the admin core."""

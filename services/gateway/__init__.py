"""The gateway: the console, its accounts and logins, and one origin for every service's API."""

"""Intake: identify households in hardship and take each application to a filed case (建档立卡)."""

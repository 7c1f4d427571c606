"""Carry integration events between services: Kafka past one machine, an embedded log on one."""

from services.transport.base import Fenced, Message, Publisher, PublishFailed, Subscription, Transport
from services.transport.factory import transport_for

__all__ = ["Fenced", "Message", "PublishFailed", "Publisher", "Subscription", "Transport", "transport_for"]

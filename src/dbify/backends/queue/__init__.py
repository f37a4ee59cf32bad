"""Request-log queues: one Protocol, an in-process default, Redis Streams, RabbitMQ and Kafka."""

from dbify.backends.queue.base import Delivery, Queue, QueueUnavailable
from dbify.backends.queue.memory import MemoryQueue

__all__ = ["Delivery", "MemoryQueue", "Queue", "QueueUnavailable"]

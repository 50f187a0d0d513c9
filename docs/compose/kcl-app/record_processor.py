"""A KCL record processor (run by amazon-kclpy's MultiLangDaemon): prints each record and
checkpoints after every batch. Its standard output is the daemon's protocol channel, so it
prints to standard error, which `docker compose logs kcl-app` shows."""

import sys

from amazon_kclpy import kcl
from amazon_kclpy.v3 import processor


def say(text):
    print(text, file=sys.stderr, flush=True)


class PrintingProcessor(processor.RecordProcessorBase):
    def __init__(self):
        self.shard = None

    def initialize(self, initialize_input):
        self.shard = initialize_input.shard_id
        say(f"{self.shard}: leased, from {initialize_input.sequence_number}")

    def process_records(self, process_records_input):
        records = process_records_input.records
        for record in records:
            say(f"{self.shard} {record.sequence_number}: {record.binary_data.decode(errors='replace').strip()}")
        if records:
            process_records_input.checkpointer.checkpoint(records[-1].sequence_number)

    def lease_lost(self, lease_lost_input):
        say(f"{self.shard}: lease lost")

    def shard_ended(self, shard_ended_input):
        shard_ended_input.checkpointer.checkpoint()

    def shutdown_requested(self, shutdown_requested_input):
        shutdown_requested_input.checkpointer.checkpoint()


if __name__ == "__main__":
    kcl.KCLProcess(PrintingProcessor()).run()

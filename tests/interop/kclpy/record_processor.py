"""A kclpy record processor (run by the MultiLangDaemon) that logs what it is given in the event
format of the Java test application (docs/interop.md) to the file named by INTEROP_EVENTS, and
checkpoints after every batch."""

import json
import os
import time

from amazon_kclpy import kcl
from amazon_kclpy.v3 import processor


class LoggingProcessor(processor.RecordProcessorBase):
    def __init__(self):
        self.shard = None

    def log(self, kind, **fields):
        line = dict(t=int(time.time() * 1e6), worker="kclpy", ev=kind, shard=self.shard, **fields)
        # One write per line, appended, like the Java application's log.
        with open(os.environ["INTEROP_EVENTS"], "a") as events:
            events.write(json.dumps(line) + "\n")

    def initialize(self, initialize_input):
        self.shard = initialize_input.shard_id
        self.log("init", **{"from": str(initialize_input.sequence_number)})

    def process_records(self, process_records_input):
        last = None
        for record in process_records_input.records:
            self.log("rec", seq=record.sequence_number, sub=record.sub_sequence_number or 0,
                     aggregated=False, pk=record.partition_key,
                     data=record.binary_data.decode())
            last = record
        if last is not None:
            process_records_input.checkpointer.checkpoint(
                last.sequence_number, last.sub_sequence_number)
            self.log("ckpt", seq=last.sequence_number, sub=last.sub_sequence_number or 0)

    def lease_lost(self, lease_lost_input):
        self.log("lease_lost")

    def shard_ended(self, shard_ended_input):
        shard_ended_input.checkpointer.checkpoint()
        self.log("shard_end")

    def shutdown_requested(self, shutdown_requested_input):
        shutdown_requested_input.checkpointer.checkpoint()
        self.log("shutdown")


if __name__ == "__main__":
    kcl.KCLProcess(LoggingProcessor()).run()

import { ProtocolError } from "../protocol/errorCodes.js";
import type { ScheduledJob } from "./ScheduledJob.js";

/**
 * The error a job answers when a deadline or the shutdown ended it, whatever its backend returned
 * (an aborted generation returns what it had): undefined when neither did (it finished or was
 * cancelled, and answers `done`).
 */
export function endCauseError(job: ScheduledJob): ProtocolError | undefined {
  if (job.endCause === "deadline")
    return new ProtocolError("E_DEADLINE_EXCEEDED", `deadline of ${job.request.deadline_ms} ms passed`);
  if (job.endCause === "shutdown")
    return new ProtocolError("E_SHUTTING_DOWN", "the daemon stopped before the request finished");
  return undefined;
}

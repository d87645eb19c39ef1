/** What the routes of the HTTP APIs share: the scheduler, the limits, the served model, the status, a log. */
import type { IncomingMessage } from "node:http";
import type { Logger } from "../../logging/createLogger.js";
import type { NodeStatus } from "../../NodeStatus.js";
import type { ProtocolLimits } from "../../protocol/parseClientMessage.js";
import type { Scheduler } from "../../scheduler/Scheduler.js";
import type { ApiRouter } from "./ApiRouter.js";
import type { ServedModels } from "./ServedModels.js";

export interface CompatibleApiContext {
  router: ApiRouter;
  scheduler: Scheduler;
  limits: ProtocolLimits;
  models: ServedModels;
  status: NodeStatus;
  log: Logger;
}

/** The scheduler's client for an HTTP request: the end user a body names, else the remote address. */
export function schedulerClient(request: IncomingMessage, user?: string): string {
  return user !== undefined && user.length > 0
    ? `http-user:${user.slice(0, 128)}`
    : `http:${request.socket.remoteAddress}`;
}

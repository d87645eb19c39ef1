/**
 * A part of the running daemon with a start and a stop: a transport (WebSocket, MQTT, HTTP), the
 * systemd notifier, the thermal guard. The daemon starts the plugins of daemonPlugins.ts in their
 * declared order and stops them in reverse, so adding a transport is one file plus one line there.
 */
import type { TinyllamadConfig } from "../config/configSchema.js";
import type { Logger } from "../logging/createLogger.js";
import type { DaemonMetrics } from "../metrics/DaemonMetrics.js";
import type { NodeStatus } from "../NodeStatus.js";
import type { AdminRequest, ServerMessage } from "../protocol/messages.js";
import type { ProtocolLimits } from "../protocol/parseClientMessage.js";
import type { Scheduler } from "../scheduler/Scheduler.js";
import type { HttpServer } from "../transports/http/HttpServer.js";
import type { NodeMqttLink } from "../transports/mqtt/NodeMqttLink.js";

export interface DaemonContext {
  /** The configuration now (SIGHUP changes the reloadable settings). */
  config(): TinyllamadConfig;
  /** The protocol limits, one object changed in place by SIGHUP. */
  limits: ProtocolLimits;
  scheduler: Scheduler;
  /** The node's figures and state: the one source for every status a plugin reports. */
  status: NodeStatus;
  metrics: DaemonMetrics;
  logFor(component: string): Logger;
  /** Answers operator requests (model swap, status); checks the admin token itself. */
  admin(request: AdminRequest): Promise<ServerMessage>;
  /** Reloads the configuration as SIGHUP does (a no-op where the process has no configuration to reread). */
  reload(): void;
  /** A fault found while serving that restarting cannot fix: the daemon stops and exits 78. */
  fatal(error: Error): void;
  environment: NodeJS.ProcessEnv;
  /**
   * Parts a plugin offers to the plugins after it (the HTTP server the WebSocket API upgrades on,
   * the node's MQTT connection that Home Assistant discovery publishes on).
   */
  shared: { http?: HttpServer; mqtt?: NodeMqttLink };
}

export interface DaemonPlugin {
  readonly name: string;
  /**
   * "before-model": started before the model is pulled and loaded, so clients see the pull and the
   * load (the MQTT status) and requests can wait for the load (WebSocket); "after-model": once a
   * model serves.
   */
  readonly phase: "before-model" | "after-model";
  /** Off in this configuration: never started. */
  enabled?(config: TinyllamadConfig): boolean;
  /** Refusals before anything starts (a WebSocket exposed without a token). Throws ConfigError. */
  check?(config: TinyllamadConfig): void;
  start(context: DaemonContext): Promise<void>;
  /** SIGTERM: stop taking new work, before the scheduler's grace period (called in reverse order). */
  stopAccepting?(): Promise<void>;
  /** Releases everything; called in reverse order after the grace period. */
  stop(): Promise<void>;
  /** Where it listens, for the "serving" log line. */
  address?(): string | { host: string; port: number } | undefined;
}

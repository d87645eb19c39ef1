/**
 * Another running tinyllamad uses this node's id on the same broker (cloned SD-card images share
 * the hostname, which is the default id). Two instances would take each other's broker session over
 * forever and answer requests twice, so one of them stops with exit 78 (EX_CONFIG: the unit's
 * RestartPreventExitStatus keeps systemd from starting it again) and names the fix.
 */
export class NodeIdConflictError extends Error {
  override readonly name = "NodeIdConflictError";
  readonly code = "E_NODE_ID_CONFLICT";

  constructor(
    readonly nodeId: string,
    why: string,
  ) {
    super(
      `another tinyllamad instance is using the node id '${nodeId}' on this broker (${why}); stopping.\n` +
        "  - give each node its own id: mqtt.nodeId in the config file, TINYLLAMAD_MQTT_NODE_ID, or --mqtt.nodeId\n" +
        "    (the default is the hostname: boards cloned from one SD-card image share it; the Ansible role sets\n" +
        "    a unique id per host)",
    );
  }
}

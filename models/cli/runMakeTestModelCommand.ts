/**
 * `tinyllamad models make-test`: the test-model generator is a development tool (devtools/), kept out
 * of release bundles, so the shipped daemon loads it only when this command runs, and says plainly
 * what to do where it is absent.
 */

/** sysexits' EX_UNAVAILABLE: the command exists, but not in this installation. */
export const developmentToolMissingExitCode = 69;

export const developmentToolMissingMessage =
  "models make-test is a development tool and is not part of release bundles. Run it from a source " +
  "checkout (npm run build && node dist/daemon/cli.js models make-test ...), then copy the file to the board.";

export async function runMakeTestModelCommand(
  args: string[],
  stderr: { write(text: string): unknown },
  // The specifier is a parameter only so that a test can name a module that is not there.
  load: () => Promise<{ runMakeTestModelCommand(args: string[]): number }> = () =>
    import("../../devtools/makeTestModelCommand.js"),
): Promise<number> {
  let command: Awaited<ReturnType<typeof load>>;
  try {
    command = await load();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ERR_MODULE_NOT_FOUND") throw error;
    stderr.write(`${developmentToolMissingMessage}\n`);
    return developmentToolMissingExitCode;
  }
  return command.runMakeTestModelCommand(args);
}

/** An error whose message is meant for the user as it is: the CLI prints it on one line, without a stack. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

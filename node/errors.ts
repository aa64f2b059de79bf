/**
 * An error whose message is meant for the user as it is: a missing file, a folder with no
 * classes, a backend that cannot start. The CLI prints it on one line without a stack; the
 * server turns it into a 4xx answer.
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

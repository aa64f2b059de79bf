import { InputError } from '../node/errors';

/** Bad command-line arguments: printed on one line, exit status 2. */
export class UsageError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

// An error the CLI prints as it is (no stack): the message already says what to do.
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'UserError';
  }
}

import { BadRequestException, NotFoundException } from '@nestjs/common';
import { DifyAuthError, DifyUnavailableError } from '../dify/dify.errors';
import { ArchiveQueryError } from '../log-storage/log-storage.errors';
import { describePageError } from './admin-errors';
import { CsrfRejected } from './admin-session';

describe(describePageError.name, () => {
  it('says what to do when Dify cannot be reached or refuses the credentials', () => {
    expect(describePageError(new DifyUnavailableError('Dify is unreachable at dify.local (ECONNREFUSED)'))).toEqual({
      status: 502,
      title: 'Dify is unreachable',
      messages: ['Dify is unreachable at dify.local (ECONNREFUSED).', 'Check that Dify is running and that the source URL is right, then try again.'],
    });
    expect(describePageError(new DifyAuthError('Dify refused the admin API key (401)'))).toMatchObject({ status: 400, title: 'Dify refused the credentials' });
  });

  it('turns validation and lookup failures into sentences', () => {
    expect(describePageError(new BadRequestException({ message: ['days to keep must be a whole number'] }))).toEqual({
      status: 400,
      title: 'Please check the form',
      messages: ['Days to keep must be a whole number.'],
    });
    expect(describePageError(new NotFoundException({ message: 'no job has id x' })).messages).toEqual(['No job has id x.']);
    expect(describePageError(new ArchiveQueryError('q', 'q must contain a letter or digit'))).toMatchObject({ status: 400 });
    expect(describePageError(new CsrfRejected())).toMatchObject({ status: 403, title: 'Form expired' });
  });

  it('hides the details of unexpected errors', () => {
    const page = describePageError(new TypeError('Cannot read properties of undefined (reading "x") at /srv/app.js:1'));
    expect(page).toMatchObject({ status: 500, unexpected: true });
    expect(page.messages.join(' ')).not.toContain('undefined');
  });
});

import { applyDecorators } from '@nestjs/common';
import { IsString, Matches, MaxLength, NotEquals, ValidationOptions } from 'class-validator';
import { SAFE_NAME_PATTERN, SAFE_NAME_RULE } from './safe-name';

/** A name that becomes part of a path: letters, digits, `.`, `_`, `-`, not `.`/`..`, at most 64 chars. */
export function IsSafeName(options?: ValidationOptions) {
  const message = `$property ${SAFE_NAME_RULE}`;
  return applyDecorators(
    IsString({ ...options, message: `$property must be a string` }),
    MaxLength(64, { ...options, message }),
    Matches(SAFE_NAME_PATTERN, { ...options, message }),
    NotEquals('.', { ...options, message }),
    NotEquals('..', { ...options, message }),
  );
}

/** An absolute http(s) URL. Whether its host is allowed is checked later, against configuration. */
export function IsHttpUrl(options?: ValidationOptions) {
  return applyDecorators(
    IsString({ ...options, message: '$property must be a string' }),
    MaxLength(2048, { ...options, message: '$property must be at most 2048 characters' }),
    Matches(/^https?:\/\/[^\s/?#]+[^\s]*$/i, {
      ...options,
      message: '$property must be an absolute http:// or https:// URL',
    }),
  );
}

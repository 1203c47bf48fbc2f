import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsInt,
  IsString,
  Max,
  Min,
  registerDecorator,
  ValidationArguments,
} from 'class-validator';
import { isValidDay } from '../../log-storage/archive-paths';

/** Small composite decorators for the archive's query strings. */

export function IsDay() {
  return function (target: object, propertyName: string) {
    registerDecorator({
      name: 'isDay',
      target: target.constructor,
      propertyName,
      options: { message: `${propertyName} must be a date in the form YYYY-MM-DD` },
      validator: { validate: (value: unknown) => isValidDay(value) },
    });
  };
}

/** This day must not be before the day in `other` (checked only when both are valid days). */
export function IsNotBefore(other: string) {
  return function (target: object, propertyName: string) {
    registerDecorator({
      name: 'isNotBefore',
      target: target.constructor,
      propertyName,
      constraints: [other],
      options: { message: `${propertyName} must not be before ${other}` },
      validator: {
        validate(value: unknown, args: ValidationArguments) {
          const start = (args.object as Record<string, unknown>)[other];
          return !isValidDay(value) || !isValidDay(start) || value >= start;
        },
      },
    });
  };
}

/** A query-string integer from min to max ("7" becomes 7; "7.5", "abc" and "" are refused). */
export function IsQueryInt(field: string, min: number, max: number) {
  const message = `${field} must be an integer from ${min} to ${max}`;
  return applyDecorators(
    Transform(({ value }) => (typeof value === 'string' && /^-?\d{1,9}$/.test(value) ? Number(value) : value)),
    IsInt({ message }),
    Min(min, { message }),
    Max(max, { message }),
  );
}

/** A query-string boolean: "true" or "false". */
export function IsQueryBoolean(field: string) {
  return applyDecorators(
    Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value)),
    IsBoolean({ message: `${field} must be true or false` }),
  );
}

export function IsShortString(field: string, max: number) {
  return applyDecorators(
    IsString({ message: `${field} must be a string` }),
    ((target: object, propertyName: string | symbol) => {
      registerDecorator({
        name: 'lengthRange',
        target: target.constructor,
        propertyName: String(propertyName),
        options: { message: `${field} must be 1 to ${max} characters` },
        validator: { validate: (value: unknown) => typeof value === 'string' && value.length >= 1 && value.length <= max },
      });
    }) as PropertyDecorator,
  );
}

/** A flag that may be true only when `other` holds `expected` (false or absent is always fine). */
export function IsTrueOnlyWith(other: string, expected: string) {
  return function (target: object, propertyName: string) {
    registerDecorator({
      name: 'isTrueOnlyWith',
      target: target.constructor,
      propertyName,
      constraints: [other, expected],
      options: { message: `${propertyName} is only allowed with ${other}=${expected}` },
      validator: {
        validate: (value: unknown, args: ValidationArguments) =>
          value !== true || (args.object as Record<string, unknown>)[other] === expected,
      },
    });
  };
}

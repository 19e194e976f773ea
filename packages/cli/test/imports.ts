// The CLI's public API plus core's error helper, for the bootstrap tests.
export * from '@shoal/cli';
export { isShoalError } from '@shoal/core';

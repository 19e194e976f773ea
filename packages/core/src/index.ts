export { ShoalError, isShoalError } from './errors.js';

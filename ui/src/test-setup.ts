// Vitest set-up: DOM matchers such as toBeInTheDocument, and a fresh DOM for every UI unit test.
import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/svelte';
import { afterEach } from 'vitest';

afterEach(() => cleanup());

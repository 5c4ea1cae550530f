export { budgetsSchema, type BudgetsConfig } from './config';
export { BudgetService, createBudgetService, type SpendSource } from './service';
export { MemoryLedger } from './memory';

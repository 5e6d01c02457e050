export interface StackProgress {
  component: string;
  status: 'starting' | 'healthy' | 'failed' | 'stopped';
  message?: string;
}

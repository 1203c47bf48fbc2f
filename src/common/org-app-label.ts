/** The one human label of a source in logs, alerts and the CLI: `organization/app`, or `app` alone. */
export function orgAppLabel(source: { app_id: string; organization_id?: string | null }): string {
  return source.organization_id ? `${source.organization_id}/${source.app_id}` : source.app_id;
}

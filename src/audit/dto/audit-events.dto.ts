import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { DeviceDto, LocationDto } from '../../sessions/dto/session-responses.dto';
import type {
  AccountEvent,
  AccountEventDetail,
  AccountEventListResponse,
  AccountEventsQuery,
} from '../../http/contract';
import { AUDIT_EVENT_ID_PATTERN, AUDIT_EVENT_TYPES, AuditEventType } from '../audit-event';

export const MAX_EVENTS_PAGE = 100;
export const DEFAULT_EVENTS_PAGE = 20;

/** `GET /account/events?limit=&before=`. */
export class AccountEventsQueryDto implements AccountEventsQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be a whole number' })
  @Min(1)
  @Max(MAX_EVENTS_PAGE)
  limit?: number;

  @IsOptional()
  @IsString()
  @Matches(AUDIT_EVENT_ID_PATTERN, { message: 'before must be a cursor this route returned' })
  before?: string;
}

export class AuditDetailDto implements AccountEventDetail {
  @ApiPropertyOptional({ description: 'The alert raised (`alert`)', example: 'NEW_COUNTRY' })
  code?: string;

  @ApiPropertyOptional({
    description: 'Sessions ended (`logout_all`, `password_changed`)',
    example: 2,
  })
  count?: number;
}

export class AuditEventDto implements AccountEvent {
  @ApiProperty({ description: 'Sortable id; pass it as `before` to read older events' })
  id!: string;

  @ApiProperty({ enum: AUDIT_EVENT_TYPES })
  type!: AuditEventType;

  @ApiProperty({ format: 'date-time' })
  at!: string;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The session it is about: logged into, refreshed, ended, evicted, flagged',
  })
  sessionId!: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'The session that acted, where another one did: the revocation, logout-all or password change came from it, or its login evicted `sessionId`',
  })
  actorSessionId!: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'The address the request came from' })
  ipAddress!: string | null;

  @ApiProperty({ type: String, nullable: true })
  userAgent!: string | null;

  @ApiProperty({ type: DeviceDto, nullable: true, description: 'Parsed from the user agent' })
  device!: DeviceDto | null;

  @ApiProperty({ type: LocationDto, nullable: true, description: 'Null when unknown' })
  location!: LocationDto | null;

  @ApiProperty({ type: AuditDetailDto, nullable: true })
  detail!: AuditDetailDto | null;
}

export class AuditEventListDto implements AccountEventListResponse {
  @ApiProperty({ type: [AuditEventDto], description: 'Newest first' })
  events!: AuditEventDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Pass as `before` for the next (older) page; null on the last page',
  })
  nextCursor!: string | null;
}
